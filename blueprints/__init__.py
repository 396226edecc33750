"""Built-in blueprints, registered through the `demo_orchestrator.blueprints` entry-point group.

Each attribute is the path of one blueprint YAML file; a third-party package registers its own
blueprint the same way.
"""

from pathlib import Path

_HERE = Path(__file__).resolve().parent

SPLITS_NETWORK = _HERE / "splits-network.yaml"
