"""Moved to bench.models.train_digits (`python -m bench.models.train_digits`)."""
from .models.train_digits import main

if __name__ == "__main__":
    main()
