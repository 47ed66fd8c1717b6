"""Custom noise-scale expressions such as "x * (exp(x**0.3) + 10)", read safely.

The text comes from workflows that people share, so it is never given to eval or exec.
Python's parser turns it into a syntax tree; only numbers, the variable x, the
constants pi and e, + - * / ** and a short list of one-argument functions are
accepted, and the tree is turned into a function of torch operations here.
"""
from __future__ import annotations

import ast
import math
from typing import Callable

import torch

MAX_LENGTH = 256
MAX_NODES = 200
MAX_DEPTH = 32

FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "exp": torch.exp,
    "expm1": torch.expm1,
    "log": torch.log,
    "log1p": torch.log1p,
    "log2": torch.log2,
    "log10": torch.log10,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "atan": torch.atan,
    "sigmoid": torch.sigmoid,
}
CONSTANTS = {"pi": math.pi, "e": math.e}
OPERATORS = {
    ast.Add: torch.add,
    ast.Sub: torch.sub,
    ast.Mult: torch.mul,
    ast.Div: torch.div,
    ast.Pow: torch.pow,
}

Node = Callable[[torch.Tensor], torch.Tensor]


def _refuse(expression: str, why: str) -> ValueError:
    return ValueError(f"cannot use the noise-scale expression {expression!r}: {why}")


def _depth(tree: ast.AST) -> int:
    children = list(ast.iter_child_nodes(tree))
    return 1 + max((_depth(c) for c in children), default=0)


def _compile(node: ast.AST, expression: str) -> Node:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _refuse(expression, f"{node.value!r} is not a number")
        value = float(node.value)
        return lambda x: torch.full_like(x, value)
    if isinstance(node, ast.Name):
        if node.id == "x":
            return lambda x: x
        if node.id in CONSTANTS:
            value = CONSTANTS[node.id]
            return lambda x: torch.full_like(x, value)
        raise _refuse(expression, f"unknown name {node.id!r}; use x, pi, e and the functions {', '.join(FUNCTIONS)}")
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        op, left, right = OPERATORS[type(node.op)], _compile(node.left, expression), _compile(node.right, expression)
        return lambda x: op(left(x), right(x))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _compile(node.operand, expression)
        if isinstance(node.op, ast.USub):
            return lambda x: torch.neg(operand(x))
        return operand
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute):
            raise _refuse(expression, "attribute access (a dot after a name) is not allowed")
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise _refuse(expression, f"{name!r} is not an allowed function; allowed: {', '.join(FUNCTIONS)}")
        if len(node.args) != 1 or node.keywords:
            raise _refuse(expression, f"{node.func.id}() takes exactly one argument")
        fn, arg = FUNCTIONS[node.func.id], _compile(node.args[0], expression)
        return lambda x: fn(arg(x))
    if isinstance(node, ast.Attribute):
        raise _refuse(expression, "attribute access (a dot after a name) is not allowed")
    what = {ast.BinOp: "that operator"}.get(type(node), type(node).__name__)
    raise _refuse(expression, f"{what} is not allowed; use numbers, x, + - * / ** and functions such as exp(x)")


def parse_noise_scale(expression: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Turn an expression in x into phi(x) built from torch operations, without eval.

    >>> phi = parse_noise_scale("x * (exp(x**0.3) + 10)")
    """
    if not isinstance(expression, str):
        raise ValueError(f"a noise-scale expression must be text, got {type(expression).__name__}")
    text = expression.strip()
    if not text:
        raise ValueError("the noise-scale expression is empty; write a function of x such as 'x**1.5'")
    if len(text) > MAX_LENGTH:
        raise _refuse(text[:40] + "...", f"it is {len(text)} characters long, the limit is {MAX_LENGTH}")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise _refuse(text, f"it is not a valid formula ({getattr(exc, 'msg', exc)})") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES or _depth(tree) > MAX_DEPTH:
        raise _refuse(text, "it is too complex")
    body = _compile(tree.body, text)

    def phi(x: torch.Tensor) -> torch.Tensor:
        return body(torch.as_tensor(x, dtype=torch.float64))

    phi.expression = text
    phi.__name__ = "custom"
    phi.__doc__ = f"phi(x) = {text}"
    return phi
