import sys
from pathlib import Path

# Lets test modules `from support import need_tool` under any pytest import mode.
sys.path.insert(0, str(Path(__file__).parent))
