"""`python -m microml_build` is the same as the `microml` command."""

import sys

from microml_build.commands.cli import main

sys.exit(main())
