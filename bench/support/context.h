#pragma once
// Machine context recorded beside every figure (kernel, CPU, limits, compiler, commit), so a
// reader can tell which runs are comparable.
namespace procspec::bench {

// Adds the context to Google Benchmark's JSON via AddCustomContext. Call after Initialize.
void add_machine_context();

// Runs the placement check (placement.h) and adds its result to the context.
void add_placement_context();

// The standard main body: Initialize, context, run, shutdown.
int run_main(int argc, char** argv);

}  // namespace procspec::bench
