"""``python -m pasar`` is the ``pasar`` command."""

from pasar.cli import main

main()
