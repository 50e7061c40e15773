"""`python -m studies.cli`, the same as `sedstudy`."""
import sys

from studies.cli import main

sys.exit(main())
