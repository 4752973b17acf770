import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("ONMT_MOE_AUTOLOAD", "1")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
