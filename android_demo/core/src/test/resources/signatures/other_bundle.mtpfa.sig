{
  "format": "mtpf-adapter-signature",
  "version": 1,
  "key_id": "a3decc71f245aeb32cf4ce7c3e490c0266a3e42d53e7fb3b1bc04b294f95c31f",
  "payload_type": "application/vnd.mtpf.adapter-statement+json",
  "payload": "{\"adapter_sha256\":\"e3af15423aabd4a6d5fcd773ef727551a19dc62f6262e7d9e68a0704dca1044a\",\"backbone_sha256\":\"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\",\"name\":\"ner\",\"signed_at\":\"2026-12-02T00:00:00Z\",\"signer\":\"vendor\",\"task\":\"ner\",\"tool\":\"mtpf-deploy test fixtures\"}",
  "signature": "304502204a4b068be895fead4a23014952671edd6a3103840561d5a689504a3e32a4e627022100c1236f641a8992a81f0bbc4acf0358536d42ee0ecf2f7dd767647b02d91135a0"
}
