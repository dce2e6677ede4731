#include <iostream>

#include "adapter/cli.h"

int main(int argc, char** argv) {
  return ovsplane::adapter::runCli(argc, argv, std::cout, std::cerr);
}
