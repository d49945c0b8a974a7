#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refiapp.settings")
    # DEBUG is never turned on here: without SECRET_KEY and without DEBUG=1 every command fails loudly (a worker
    # started without its secret must not sign borrower links with a public key). `make demo` sets DEBUG=1.
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
