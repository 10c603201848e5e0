"""Face detection (MTCNN), alignment to a five-point template, and paste-back.

Example:
    >>> import skimage.data
    >>> from d2ca.face import FaceDetector, align_face, paste_back
    >>> image = skimage.data.astronaut()
    >>> face = FaceDetector().detect([image])[0][0]
    >>> crop, matrix = align_face(image, face.landmarks, size=128)
    >>> paste_back(image, crop, matrix).shape
    (512, 512, 3)
"""

from d2ca.face.align import ARCFACE_TEMPLATE_112, CROP_SCALE, align_face, face_template, paste_back
from d2ca.face.detect import Face, FaceDetector
from d2ca.face.track import FaceTracker, onet_refine

__all__ = [
    "ARCFACE_TEMPLATE_112",
    "CROP_SCALE",
    "Face",
    "FaceDetector",
    "FaceTracker",
    "align_face",
    "face_template",
    "onet_refine",
    "paste_back",
]
