"""Serve a page to draw a digit and watch every layer answer, read the
numbers in a photo, and try convolution on a picture.

Starts a local web server (FastAPI on uvicorn) and prints the address to
open. The page works offline: its script, style and fonts come from this
checkout. It answers with the trained models it finds (the CNN at --model,
logistic regression, random forest and dense net under --runs-dir) and
says how to train the ones it lacks; with no CNN trained yet, the reader
model shipped in models/reader/ answers in its place, labelled as such.

    python app.py                                   # http://127.0.0.1:8000/
    python app.py --port 8080 --runs-dir runs --model runs/cnn-fashion/model.keras
    python app.py --host 0.0.0.0                    # reachable from other machines

Draw: the 28x28 input after MNIST-style preparation, the four models'
probabilities, every convolution and pooling layer's feature maps (with
each map's filter, and the first layer's stepped over your digit), the
dense layers, the ten outputs and the saliency map, as you draw. Upload: the same for
a picture of one digit, or the numbers read in a photo or scan (as
read_digits.py reads them, with its --json output). Learn: conv_demo.py's
convolution, padding and pooling on the bundled photo or yours, with your
kernel. docs/app.md describes the routes and the limits.
"""

from digitsuite import cli


def port_number(text):
    """argparse type: a TCP port, 0 (any free port) to 65535."""
    return cli.whole_number(text, 0, 65535)


def parse_args(argv=None):
    parser = cli.Parser(__doc__)
    parser.add_argument("--host", type=str, default="127.0.0.1",
                        help="address to listen on; 0.0.0.0 for every network interface "
                             "(default: 127.0.0.1, this computer only)")
    parser.add_argument("--port", type=port_number, default=8000,
                        help="port to listen on, 0 for any free one (default: 8000)")
    cli.add_app_model_args(parser)
    parser.add_argument("--debug", action="store_true",
                        help="show full tracebacks instead of one-line errors (default: off)")
    return parser.parse_args(argv)


def main(args):
    from digitsuite.app import server
    from digitsuite.app.session import Session

    sock = server.bind(args.host, args.port)  # a taken port fails here, in one line
    session = Session(args.runs_dir, args.model)
    print("\n".join(session.summary()))
    print(f"digitsuite app: open {server.url(sock)}  (Ctrl-C stops it)", flush=True)
    try:
        server.make_server(server.create_app(session, args.host)).run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn has shut down cleanly and passes the signal on: stopping
        # the app is what Ctrl-C or SIGTERM asked for, not an error.
        pass
    print("digitsuite app: stopped")


if __name__ == "__main__":
    cli.run(main, parse_args())
