"""Export a recogniser's inference model for serving (TF SavedModel or ONNX), or as a .keras
file to ship (float32, no optimizer, its font record beside it), and verify it."""

from kerasseq.cli import make_parser, parse, run


def main(argv=None):
    parser = make_parser(__doc__, accel=True)
    parser.add_argument("--model", required=True, help="a .keras recogniser")
    parser.add_argument("--out", required=True,
                        help="export path (a folder for tf_saved_model, a .onnx file for onnx, a .keras file for keras)")
    # tf_saved_model: TensorFlow or JAX backend; onnx: PyTorch backend (needs onnx, onnxscript, onnxruntime);
    # keras: any backend
    parser.add_argument("--format", choices=("tf_saved_model", "onnx", "keras"), default="tf_saved_model")
    args = parse(parser, argv)

    import numpy as np

    from kerasseq.ocr.export import export_recognizer, run_exported, save_for_reading
    from kerasseq.ocr.inference import predict_probabilities
    from kerasseq.ocr.predictor import load_recognizer

    model = load_recognizer(args.model)
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 128, 1), dtype=np.uint8)
    if args.format == "keras":
        save_for_reading(model, args.model, args.out)
        exported = predict_probabilities(load_recognizer(args.out), images)
    else:
        export_recognizer(model, args.out, args.format)
        exported = run_exported(args.out, images / np.float32(255), args.format)
    difference = np.abs(exported - predict_probabilities(model, images)).max()
    print(f"exported {args.out}; largest difference from Keras on 4 images: {difference:.2e}")
    return 0


if __name__ == "__main__":
    run(main)
