"""SSL audio encoders behind one contract (``base.Backbone``). Importing this package registers them, each with
the stochastic depth of its official fine-tuning recipe (used when model.backbone.drop_path is null)."""
from sed_core.models.backbones import asit, atst, audiomae, beats, mae_ast, ssast
from sed_core.models.backbones.registration import BackboneRegistration, register_backbone

# vit_base(drop_path_rate=0.1) in ASiT-CRNN's ast_models.py
register_backbone(BackboneRegistration("asit", asit.ASiT, asit.VARIANTS, official_drop_path=0.1))
# BEATs has layerdrop, not drop-path: encoder_layerdrop 0.05 in the iter3 config
register_backbone(BackboneRegistration("beats", beats.BEATs, beats.VARIANTS, official_drop_path=0.05))
# timm ViT of ast_models.py without drop_path_rate
register_backbone(BackboneRegistration("ssast", ssast.SSAST, ssast.VARIANTS, official_drop_path=0.0))
# AudioMAE fine-tuning recipe (--drop_path 0.1)
register_backbone(BackboneRegistration("audiomae", audiomae.AudioMAE, audiomae.VARIANTS, official_drop_path=0.1))
# fairseq encoder without stochastic depth
register_backbone(BackboneRegistration("mae_ast", mae_ast.MAEAST, mae_ast.VARIANTS, official_drop_path=0.0))
# the clip ATST recipe
register_backbone(BackboneRegistration("atst_clip", atst.ATSTClip, atst.VARIANTS, official_drop_path=0.1))
# ATST-SED trains with atst_dropout 0
register_backbone(BackboneRegistration("atst_frame", atst.ATSTFrame, atst.VARIANTS, official_drop_path=0.0))
