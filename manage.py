#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refiapp.settings")
    # DEBUG is never turned on here: without SECRET_KEY and without DEBUG=1 every command fails loudly (a worker
    # started without its secret must not sign borrower links with a public key). `make demo` sets DEBUG=1.
    # The one exception reads only code: `makemigrations` (a contributor's or CI's `--check`) signs, sends and
    # serves nothing, so it runs with a key that lives only in this process.
    if sys.argv[1:2] == ["makemigrations"] and not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = "makemigrations-only-" + os.urandom(16).hex()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
