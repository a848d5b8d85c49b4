"""Reading inputs and writing outputs: sources, row checks, the tf.Example encoder,
part files, side files and the publish protocol."""
