// Screenshots of workflows loaded in the real ComfyUI frontend. Driven by tools/thumbnails.py
// (read its docstring); not meant to be run on its own.
//
//   node shoot.mjs <comfyui url> <out dir> <width> <height> <workflow.json>...
//
// For each workflow: open the frontend, app.loadGraphData(workflow), fit the graph in view,
// write <out dir>/<name>.png (the page), <name>.prompt.json (app.graphToPrompt().output: the
// API prompt the frontend makes of it) and <name>.errors.json (page errors, missing node types).
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

const [url, outDir, width, height, ...files] = process.argv.slice(2);
const userDataDir = mkdtempSync(join(tmpdir(), "ersde-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: Number(width), height: Number(height) },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  for (const file of files) {
    const name = basename(file, ".json");
    const workflow = JSON.parse(readFileSync(file, "utf8"));
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e.stack || e)));
    await page.goto(url, { waitUntil: "load" });
    await page.waitForFunction(() => window.app && window.app.graph && window.app.canvas
      && document.querySelector("#graph-canvas"), null, { timeout: 120000 });
    await page.waitForTimeout(1500);
    // Errors of the frontend's own start-up (1.27.10 throws one in a settings onChange on a fresh
    // user directory) are kept apart: only errors while loading the workflow count.
    const startupErrors = errors.splice(0);
    const result = await page.evaluate(async ([wf, name]) => {
      const app = window.app;
      await app.loadGraphData(wf, true, true, name);
      const missing = app.graph._nodes.filter((n) => n.has_errors || n.constructor?.nodeData === undefined
        && !["Note", "MarkdownNote"].includes(n.type)).map((n) => n.type);
      // Fit the whole graph (nodes and groups) in the canvas.
      const c = app.canvas;
      let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
      for (const n of app.graph._nodes) {
        x0 = Math.min(x0, n.pos[0]); y0 = Math.min(y0, n.pos[1] - 30);
        x1 = Math.max(x1, n.pos[0] + n.size[0]); y1 = Math.max(y1, n.pos[1] + n.size[1]);
      }
      for (const g of app.graph._groups ?? []) {
        const b = g._bounding ?? g.bounding;
        x0 = Math.min(x0, b[0]); y0 = Math.min(y0, b[1]);
        x1 = Math.max(x1, b[0] + b[2]); y1 = Math.max(y1, b[1] + b[3]);
      }
      const rect = c.canvas.getBoundingClientRect();
      const top = 50, left = 60, pad = 20;  // keep clear of the menu bar and the side bar
      const w = rect.width - left - 2 * pad, h = rect.height - top - 2 * pad;
      const scale = Math.min(1.2, w / (x1 - x0), h / (y1 - y0));
      c.ds.scale = scale;
      c.ds.offset[0] = (left + pad + (w - (x1 - x0) * scale) / 2) / scale - x0;
      c.ds.offset[1] = (top + pad + (h - (y1 - y0) * scale) / 2) / scale - y0;
      c.setDirty(true, true);
      const prompt = await app.graphToPrompt();
      const sizes = Object.fromEntries(app.graph._nodes.map((n) => [n.id, { type: n.type, size: [n.size[0], n.size[1]], min: Array.from(n.computeSize()) }]));
      return { missing, prompt: prompt.output, sizes };
    }, [workflow, name]);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(outDir, `${name}.png`) });
    writeFileSync(join(outDir, `${name}.prompt.json`), JSON.stringify(result.prompt, null, 2));
    writeFileSync(join(outDir, `${name}.errors.json`),
      JSON.stringify({ pageerrors: errors, startupErrors, missing: result.missing, sizes: result.sizes }, null, 2));
    console.log(`shot ${name}`);
    await page.close();
  }
} catch (e) {
  console.error(e);
  failed = true;
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
