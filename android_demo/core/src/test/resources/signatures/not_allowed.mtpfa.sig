{
  "format": "mtpf-adapter-signature",
  "version": 1,
  "key_id": "e0172a9bf22f458f2018f8af00c834309db4b3b44b3dd686e93751e57b42d87d",
  "payload_type": "application/vnd.mtpf.adapter-statement+json",
  "payload": "{\"adapter_sha256\":\"3b72cb9258de98fcc66ebd0e7178f950e35cf84ff0bfe2d5d2b6e3b5da3e5bd2\",\"backbone_sha256\":\"3d30af87179d5fabf61bf750c0dadb79b6c17dfaca8e63c80f1ed06a2323f35f\",\"name\":\"tc\",\"signed_at\":\"2026-12-02T00:00:00Z\",\"signer\":\"shop\",\"task\":\"tc\",\"tool\":\"mtpf-deploy test fixtures\"}",
  "signature": "304502210094483b40a22d65fd5b975fd4eb32ef28b1b62a1e8866e5b648a7775f8fe9124702202e1dd46262525ab53e34473e30ab36c02dd5349283f9eaa27e69299669a53287"
}
