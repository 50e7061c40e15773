"""SSL audio encoders behind one contract (``base.Backbone``). Importing this package registers them."""
from sed_core.models.backbones.asit import build_asit
from sed_core.models.registries import BACKBONES

BACKBONES.register("asit")(build_asit)
