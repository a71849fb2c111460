"""`python -m simplepose` runs the command line."""
import sys

from simplepose.cli import main

sys.exit(main())
