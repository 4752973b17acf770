import sys

from onmt_moe.predict.cli import main

sys.exit(main())
