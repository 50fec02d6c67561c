"""How the knowledge-distillation flags reach the stock ``vamb`` command: the start-up
finder (:mod:`.hook`) and the three wrapped functions of ``vamb.__main__`` (:mod:`.patch`)."""
