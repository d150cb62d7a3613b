# seed 0, the defaults below; the same numbers on every build
trained = tr.train_model()
print(
    f"seed {tr.SEED}, {tr.STEPS} Adam steps, "
    f"learning rate {tr.LEARNING_RATE},\n"
    f"batches of {tr.BATCH_SIZE} from {tr.TRAIN_SIZE} sentence pairs"
)
final = tr.metrics(trained.params, trained.test)  # the 1,024 held-out pairs
print(
    f"held out: {final['word_accuracy']:.1%} of the words right, "
    f"{final['sentence_accuracy']:.1%} of the sentences entirely right"
)
assert final["word_accuracy"] >= 0.95  # the bar: below it, the build fails
assert final["sentence_accuracy"] >= 0.9
budget = (tr.SEED, tr.STEPS, tr.LEARNING_RATE, tr.BATCH_SIZE)
assert budget == (0, 400, 0.01, 32)  # as stated
assert (len(trained.train.source), len(trained.test.source)) == (512, 1024)
