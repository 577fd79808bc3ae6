"""The compressed size of an image: the sum of the (gzip) layer sizes its manifest lists in an
OCI layout (`buildah push --compression-format gzip IMAGE oci:DIR:TAG`), against a limit.

  check_image_size.py OCI_DIR MAX_BYTES
"""
import json
import os
import sys


class LayoutError(Exception):
    pass


def compressed_size(layout):
    try:
        with open(os.path.join(layout, "index.json"), encoding="utf-8") as f:
            manifests = json.load(f).get("manifests") or []
        if len(manifests) != 1:
            raise LayoutError(f"index.json lists {len(manifests)} manifests, expected 1")
        algorithm, _, digest = manifests[0]["digest"].partition(":")
        with open(os.path.join(layout, "blobs", algorithm, digest), encoding="utf-8") as f:
            layers = json.load(f).get("layers") or []
        if not layers:
            raise LayoutError("the manifest lists no layers")
        return sum(int(layer["size"]) for layer in layers)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise LayoutError(f"cannot read the layer sizes: {e!r}") from e


def main(argv):
    if len(argv) != 3:
        raise SystemExit(__doc__)
    layout, limit = argv[1], int(argv[2])
    try:
        size = compressed_size(layout)
    except LayoutError as e:
        print(f"OCI layout {layout}: {e}", file=sys.stderr)
        return 1
    print(f"compressed image size (gzip layers, OCI layout): {size} bytes ({size / 1e6:.2f} MB)")
    if size > limit:
        print(f"the compressed image is {size} bytes, over the limit of {limit} ({limit / 1e6:.0f} MB)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
