"""`python -m vendorscope` is the `vendorscope` command."""

from vendorscope.cli import main

main()
