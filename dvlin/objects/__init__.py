"""The content-addressed object store: ids, hashing, chunking, packs and manifests."""
