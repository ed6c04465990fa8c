/* Loading an OBS module into the OBS host (modules.c). */
#pragma once

#include <stdbool.h>

/* Open and initialise the module in `binary` with its data folder; false, with libobs' code, if not. */
bool load_module(const char *binary, const char *data, int *code);
