#include <stdio.h>
#include "../include/vec.h"

int main(void) {
    vec_t v = {3, 4};
    printf("%f\n", vec_
}
