"""`python -m ember run script.py [args...]`: see ember/_run.py."""
import sys

from ember._run import main

if __name__ == "__main__":
    sys.exit(main())
