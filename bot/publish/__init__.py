"""Publishing a new model safely: `relais publish` and `relais rollback`.

    relais publish     lint -> train (only when the training inputs changed)
                       -> evaluate on tests/nlu/ against the live model
                       -> refuse a worse model -> load it into the running Rasa
    relais rollback    load an earlier published model back

Answer texts never need this: the actions read them from data/faq/ when they
send them. A model is only needed for what the model learns: examples, new
topics, rules, the configuration.

Files, under the project's models/ folder:
    relais.tar.gz          the live model (what `make run` and a restart load)
    published/*.tar.gz     every model published, the last KEEP_MODELS kept
    candidates/            models being trained and evaluated
"""
