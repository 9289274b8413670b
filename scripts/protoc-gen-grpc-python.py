"""buf plugin that runs grpcio-tools' gRPC Python generator (`--grpc_python_out`).

grpcio-tools ships protoc and the gRPC Python generator compiled into one Python module
(`python -m grpc_tools.protoc`), not as a protoc-gen-* executable, and buf's `protoc_builtin`
only knows protoc's own generators. This adapter speaks the plugin protocol to buf and hands the
already-compiled descriptors to grpc_tools, so the stubs come from the pinned PyPI package and
nothing else. Run it with the venv's interpreter (see buf.gen.python.yaml).
"""

import os
import subprocess
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2


def main() -> int:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse()
    # The generator handles proto3 `optional` like protoc's own Python generator does.
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL

    with tempfile.TemporaryDirectory(prefix="grpc-python-") as tmp:
        # buf already parsed and checked the files: protoc only reads the descriptors back.
        descriptors = os.path.join(tmp, "descriptors.binpb")
        with open(descriptors, "wb") as f:
            f.write(descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString())
        out = os.path.join(tmp, "out")
        os.mkdir(out)
        args = [sys.executable, "-m", "grpc_tools.protoc", f"--descriptor_set_in={descriptors}", f"--grpc_python_out={out}"]
        if request.parameter:
            args.append(f"--grpc_python_opt={request.parameter}")
        # protoc's own output must not mix with the response on stdout.
        done = subprocess.run(args + list(request.file_to_generate), stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            response.error = done.stderr.strip() or f"grpc_tools.protoc exited with {done.returncode}"
        else:
            for root, _, files in os.walk(out):
                for name in sorted(files):
                    path = os.path.join(root, name)
                    with open(path, encoding="utf-8") as f:
                        response.file.add(name=os.path.relpath(path, out).replace(os.sep, "/"), content=f.read())

    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
