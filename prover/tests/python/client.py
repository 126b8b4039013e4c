"""A Python client of attribution.v1: submits an epoch file, follows the job, fetches the bundle.

Usage: client.py STUBS_DIR SERVER TOKEN EPOCH_JSON OUT_DIR
(stubs generated with: python3 -m grpc_tools.protoc -I proto --python_out=STUBS_DIR
 --grpc_python_out=STUBS_DIR proto/attribution/v1/attribution.proto)
Prints the job id on success; exits non-zero with the reason otherwise.
"""

import os
import sys


def main() -> int:
    stubs, server, token, epoch_path, out_dir = sys.argv[1:6]
    sys.path.insert(0, stubs)
    import grpc
    from attribution.v1 import attribution_pb2 as pb
    from attribution.v1 import attribution_pb2_grpc as rpc

    metadata = [("authorization", f"Bearer {token}")]
    with grpc.insecure_channel(server) as channel:
        client = rpc.AttributionServiceStub(channel)

        # Without the token the service refuses.
        try:
            client.ListJobs(pb.ListJobsRequest())
            print("ListJobs without a token was accepted", file=sys.stderr)
            return 1
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNAUTHENTICATED:
                print(f"expected UNAUTHENTICATED, got {e.code()}", file=sys.stderr)
                return 1

        with open(epoch_path, "rb") as f:
            data = f.read()

        def upload():
            yield pb.SubmitEpochRequest(
                header=pb.SubmitHeader(
                    backend=pb.BACKEND_PLONKY2, format=pb.EPOCH_FORMAT_JSON
                )
            )
            step = 4096
            for i in range(0, len(data), step):
                yield pb.SubmitEpochRequest(
                    chunk=pb.Chunk(part=pb.PART_EPOCH_JSON, data=data[i : i + step])
                )
            yield pb.SubmitEpochRequest(
                finish=pb.Finish(
                    sizes=[pb.PartSize(part=pb.PART_EPOCH_JSON, size=len(data))]
                )
            )

        answer = client.SubmitEpoch(upload(), metadata=metadata)
        job_id = answer.job.job_id
        seen = []
        for job in client.WatchJob(pb.WatchJobRequest(job_id=job_id), metadata=metadata):
            state = pb.JobState.Name(job.state)
            if not seen or seen[-1] != state:
                seen.append(state)
                print(f"{job_id} {state} {job.message}", file=sys.stderr)
        if seen[-1] != "JOB_STATE_DONE":
            print(f"job ended {seen[-1]}", file=sys.stderr)
            return 1

        os.makedirs(out_dir, exist_ok=True)
        files = {}
        for chunk in client.FetchBundle(pb.FetchBundleRequest(job_id=job_id), metadata=metadata):
            name = os.path.basename(chunk.file_name)
            if chunk.offset == 0:
                files[name] = bytearray()
            files[name].extend(chunk.data)
        for name, content in files.items():
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(content)

        # The verifying key the service hands out matches the bundle's.
        key = client.GetVerifyingKey(
            pb.GetVerifyingKeyRequest(backend=pb.BACKEND_PLONKY2, shape=job.shape),
            metadata=metadata,
        )
        if key.digest != job.verifying_key_digest or key.digest != key.pinned_digest:
            print(f"key digest {key.digest} differs from the job's", file=sys.stderr)
            return 1
    print(job_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
