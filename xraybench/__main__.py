import sys

from xraybench.cli import main

sys.exit(main())
