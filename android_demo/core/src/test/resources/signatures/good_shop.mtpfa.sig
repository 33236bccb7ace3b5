{
  "format": "mtpf-adapter-signature",
  "version": 1,
  "key_id": "e0172a9bf22f458f2018f8af00c834309db4b3b44b3dd686e93751e57b42d87d",
  "payload_type": "application/vnd.mtpf.adapter-statement+json",
  "payload": "{\"adapter_sha256\":\"a3360e0200b362a025a995e63f2d0e30e7dcf03e7b56c4089ada1dc63b5151fc\",\"backbone_sha256\":\"3d30af87179d5fabf61bf750c0dadb79b6c17dfaca8e63c80f1ed06a2323f35f\",\"name\":\"shop-reviews\",\"signed_at\":\"2026-12-02T00:00:00Z\",\"signer\":\"shop\",\"task\":\"tc\",\"tool\":\"mtpf-deploy test fixtures\"}",
  "signature": "3045022100b4b4d14b7ca49ae6b3c9ff5c301b4a44b24acbb99831a96879c9d6e469aa88670220163b44133dd53a63cca9d23faa4bacf7fb18a83eae3d4ea430bfced944e338cb"
}
