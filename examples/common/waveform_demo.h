/*
 * The example application shared by the CMake, Bazel and Zephyr examples: it runs the bundled
 * waveform model (examples/model/waveform.tar, built as the library "waveform") on four test
 * signals, prints what it finds and checks every output against the numpy reference.
 */
#ifndef WAVEFORM_DEMO_H_
#define WAVEFORM_DEMO_H_

/* Receives one line of output (no newline); each platform prints it on its own console. */
typedef void (*waveform_print_fn)(const char *line);

/* Returns 0 when every output matches the reference (relative 1e-5, absolute 1e-6). */
int waveform_demo(waveform_print_fn print);

#endif /* WAVEFORM_DEMO_H_ */
