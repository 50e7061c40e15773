"""SSL audio encoders behind one contract (``base.Backbone``). Importing this package registers them."""
from sed_core.models.backbones.asit import build_asit
from sed_core.models.backbones.atst import build_atst_clip, build_atst_frame
from sed_core.models.backbones.audiomae import build_audiomae
from sed_core.models.backbones.beats import build_beats
from sed_core.models.backbones.mae_ast import build_mae_ast
from sed_core.models.backbones.ssast import build_ssast
from sed_core.models.registries import BACKBONES

BACKBONES.register("asit")(build_asit)
BACKBONES.register("beats")(build_beats)
BACKBONES.register("ssast")(build_ssast)
BACKBONES.register("audiomae")(build_audiomae)
BACKBONES.register("mae_ast")(build_mae_ast)
BACKBONES.register("atst_clip")(build_atst_clip)
BACKBONES.register("atst_frame")(build_atst_frame)

# stochastic depth of each official fine-tuning recipe, used when model.backbone.drop_path is null
OFFICIAL_DROP_PATH = {
    "asit": 0.1,  # vit_base(drop_path_rate=0.1) in ASiT-CRNN's ast_models.py
    "beats": 0.05,  # BEATs has layerdrop, not drop-path: encoder_layerdrop 0.05 in the iter3 config
    "ssast": 0.0,  # timm ViT of ast_models.py without drop_path_rate
    "audiomae": 0.1,  # AudioMAE fine-tuning recipe (--drop_path 0.1)
    "mae_ast": 0.0,  # fairseq encoder without stochastic depth
    "atst_clip": 0.1,  # the clip ATST recipe
    "atst_frame": 0.0,  # ATST-SED trains with atst_dropout 0
}
