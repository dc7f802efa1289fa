/*
 * streamgate/config.h — settings, from code, a JSON file or the environment.
 * Part of the public API; include <streamgate.h> for all of it.
 */
#ifndef STREAMGATE_CONFIG_H
#define STREAMGATE_CONFIG_H

#include "streamgate/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A configuration holding the embedded defaults. Caller frees. */
sg_config *sg_config_new(void);
/* Frees cfg; NULL is a no-op. */
void sg_config_free(sg_config *cfg);
/* Sets one key (see README "Configuration") from its text form. On error
 * writes a one-line reason into err (borrowed, errlen bytes). */
int sg_config_set(sg_config *cfg, const char *key, const char *value, char *err, size_t errlen);
/* Applies a JSON config file. On error, err names the file, line and key. */
int sg_config_load_file(sg_config *cfg, const char *path, char *err, size_t errlen);
/* Applies JSON config text[0..len) (borrowed, need not end in NUL): what
 * sg_config_load_file does with a file's bytes; name stands for the file
 * in err. */
int sg_config_load_text(sg_config *cfg, const char *text, size_t len, const char *name,
			char *err, size_t errlen);
/* Applies every STREAMGATE_<KEY> environment variable that is set. */
int sg_config_load_env(sg_config *cfg, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
