h = params["src_embed"][test.source] + params["src_pos"]  # (B, S, D)
v = h @ params["w_v"]  # (B, S, D): the values
# every weight 1/7: the same for each row
uniform_out = v.mean(axis=1, keepdims=True)
uniform_logits = uniform_out @ params["w_out"] + params["b_out"]
uniform_words = uniform_logits.argmax(axis=-1)
uniform_accuracy = (uniform_words == test.target).mean()
print(f"learned weights: {(predicted == test.target).mean():.1%} "
      "of the words right")
print(f"uniform weights: {uniform_accuracy:.1%}")
assert uniform_accuracy < 0.3
