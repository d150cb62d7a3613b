image = 0.1 + 0.02 * rng.standard_normal((32, 32))  # a dim, noisy background
image[4:20, 12:28] = 0.9  # the object: a bright 16 x 16 square, off the grid
P = 8  # patch size (ViT cuts 224 x 224 images into 16 x 16 patches)
patches = image.reshape(4, P, 4, P).transpose(0, 2, 1, 3).reshape(16, P * P)

# Patch embedding: a linear map of the pixels + a position embedding.
w_embed = np.zeros((P * P, 3))
w_embed[:, 0] = 1 / (P * P)  # feature 0: the patch's mean brightness
row, col = np.divmod(np.arange(16), 4)
pos_embed = np.stack([np.zeros(16), row / 3, col / 3], axis=1)  # 1, 2: where
embedded = patches @ w_embed + pos_embed  # (N, 3)
print("image", image.shape, "-> patches", patches.shape,
      "-> embedded", embedded.shape)
show("brightness per patch", embedded[:, 0].reshape(4, 4))
object_patches = np.flatnonzero(patches.max(axis=1) > 0.5)  # touched by it
print("object patches:", object_patches.tolist())
assert object_patches.tolist() == [1, 2, 3, 5, 6, 7, 9, 10, 11]
