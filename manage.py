#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refiapp.settings")
    if not os.environ.get("SECRET_KEY"):
        # No secret: a developer's checkout (makemigrations, shell, tests of commands). Production sets SECRET_KEY
        # (and DEBUG=0, see .env.example), so this never turns DEBUG on there.
        os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
