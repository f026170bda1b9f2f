"""`python -m vendorscope.lab serve ...`: see vendorscope.lab.serve."""

import sys

from vendorscope.lab.serve import main

sys.exit(main())
