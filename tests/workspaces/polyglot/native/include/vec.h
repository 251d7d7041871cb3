#define VEC_DIM 2
typedef struct vec { double x, y; } vec_t;
/* Length of v. */
double vec_len(const vec_t *v);
