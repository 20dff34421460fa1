"""pytorch-grad-cam 1.5.x, the reference the CAM engine is checked against, by our method names."""

from pytorch_grad_cam import (
    AblationCAM,
    EigenCAM,
    EigenGradCAM,
    GradCAM,
    GradCAMElementWise,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
)
from pytorch_grad_cam.base_cam import BaseCAM

PYTORCH_GRAD_CAM: dict[str, type[BaseCAM]] = {
    "gradcam": GradCAM,
    "gradcampp": GradCAMPlusPlus,
    "xgradcam": XGradCAM,
    "hirescam": HiResCAM,
    "gradcam_elementwise": GradCAMElementWise,
    "layercam": LayerCAM,
    "eigencam": EigenCAM,
    "eigengradcam": EigenGradCAM,
    "scorecam": ScoreCAM,
    "ablationcam": AblationCAM,
}
