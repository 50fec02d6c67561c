"""Joint training of Taxometer's student with a teacher: the label space (:mod:`.label_space`),
the inputs on the device (:mod:`.data`), the losses (:mod:`.losses`), the loop
(:mod:`.trainer`), prediction (:mod:`.predict`), device and precision (:mod:`.device`), and
the faster forms of a few ops and of the optimiser (:mod:`.fastops`, :mod:`.optim`)."""
