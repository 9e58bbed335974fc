// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {IERC20} from "@openzeppelin/contracts/interfaces/IERC20.sol";

/// @title TestYieldVault
/// @notice ERC-4626 vault over the test stablecoin, LOCAL CHAINS ONLY. Yield is simulated by
///         sending (or minting) underlying tokens straight to the vault: totalAssets() grows and
///         so does every share's value. A decimals offset of 6 gives virtual shares, which makes
///         the first-depositor inflation attack unprofitable (OpenZeppelin's mitigation).
contract TestYieldVault is ERC4626 {
    constructor(IERC20 asset_) ERC20("Corridor Test Vault Share", "cvTEST") ERC4626(asset_) {}

    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }
}
