"""The one TF graph: raw and output specs, the feature ops, bucket boundaries, and
applying an exported graph to Arrow batches. TensorFlow and tf.Transform only, no Beam."""
