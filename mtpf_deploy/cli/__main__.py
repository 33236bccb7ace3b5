"""``python -m mtpf_deploy.cli``: the same as the ``mtpf-deploy`` command."""
import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
