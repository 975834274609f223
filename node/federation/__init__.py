"""Everything that speaks ActivityPub: vocabulary, signatures, fetching, inbox."""
