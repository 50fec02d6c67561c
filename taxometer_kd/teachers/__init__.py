"""Teachers: the contract (:mod:`.base`), heads over frozen features (:mod:`.heads`) and
DNA encodings (:mod:`.dna`). The teachers themselves are plugins (``plugins/``)."""
