{
  "format": "mtpf-adapter-signature",
  "version": 1,
  "key_id": "a3decc71f245aeb32cf4ce7c3e490c0266a3e42d53e7fb3b1bc04b294f95c31f",
  "payload_type": "application/vnd.mtpf.adapter-statement+json",
  "payload": "{\"adapter_sha256\":\"71b10efc00fe4a3e272e3503f200bf1f25153065662df6f96b89bc0914ce96fe\",\"backbone_sha256\":\"3d30af87179d5fabf61bf750c0dadb79b6c17dfaca8e63c80f1ed06a2323f35f\",\"name\":\"recalled\",\"signed_at\":\"2026-12-02T00:00:00Z\",\"signer\":\"vendor\",\"task\":\"ner\",\"tool\":\"mtpf-deploy test fixtures\"}",
  "signature": "3045022100879955696fdb846978b2bea755229ffb07fda9ea6af28e7c7afc0cf75e6c3b0202201b5a9fd54b9bf0df3205bbba554829190cdb5553bb828ea55642f738480b315d"
}
